/* Instantiates the intrinsic-plasticity loop of fr_plasticity_impl.h in
 * float and double behind fr_ip_run (fr_plasticity.h).
 *
 * Contraction into FMAs is off, as in fr_reservoir.c: the loop then performs
 * exactly the IEEE operations written, on every CPU, so that a NumPy loop
 * written the same way reproduces it to the bit. */
#include "fr_exact_fp.h"
#include "fr_plasticity.h"
#include "fr_reservoir.h"
#include "fr_math.h"
#include "fr_fpstate.h"

#define FR_IMPL "fr_plasticity_impl.h"
#include "fr_instantiate.h"

void fr_ip_run(const fr_ip_model *model, const fr_ip_series *series, const fr_ip_rule *rule)
{
    unsigned int fpstate = fr_fp_enter();
    if (model->precision == FR_RES_FLOAT32)
        fr_ip_run_f(model, series, rule);
    else
        fr_ip_run_d(model, series, rule);
    fr_fp_leave(fpstate);
}
