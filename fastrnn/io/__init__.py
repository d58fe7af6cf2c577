"""Persistence and files: the model file format (``format.py``: save, load,
checksums and the class registry), the atomic write every writer uses
(``atomic.py``), and the table/series readers and writers of the command line
and of ``fastrnn.dask`` (``tables.py``)."""
from fastrnn.io.format import (
    FORMAT_VERSION, assign_params, config_bool, config_int, config_int_list, expect_shapes, load, register,
    register_params_class, registered_classes, save,
)

__all__ = ["save", "load", "register", "registered_classes", "assign_params",
           "expect_shapes", "config_int", "config_bool", "config_int_list",
           "register_params_class", "FORMAT_VERSION"]
