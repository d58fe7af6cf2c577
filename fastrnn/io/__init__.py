"""Persistence and files: the model file format (``format.py``: save, load,
checksums, the class registry and the helpers with which each class saves
and rebuilds itself), the atomic write every writer uses (``atomic.py``), and
the table/series readers and writers of the command line and of
``fastrnn.dask`` (``tables.py``)."""
from fastrnn.io.format import (
    FORMAT_VERSION, assign_params, attributes_config, build_part, build_with_params,
    config_bool, config_count, config_int, config_int_list, expect_array, expect_count,
    expect_shapes, load, part_arrays, part_config, register, register_params_class,
    registered_classes, rng_from_state, rng_state, save,
)
from fastrnn.io.format import __all__
