"""Build the Cython kernels in csrc/ into fastcavi._ext.

OpenMP: a tiny test program is compiled with -fopenmp first; where that fails
the extensions are built without it (serial prange) and
``fastcavi._ext._lda.OPENMP_ENABLED`` reports False at run time.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP_TEST = r"""
#include <omp.h>
int main(void) { int n = 0;
#pragma omp parallel reduction(+:n)
  n += 1;
  return omp_get_max_threads() > 0 && n > 0 ? 0 : 1; }
"""


def openmp_flags():
    """Compiler and linker flags for OpenMP, or ([], []) if it does not work."""
    if os.environ.get("FASTCAVI_NO_OPENMP"):
        return [], []
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    if shutil.which(cc[0]) is None:
        return [], []
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp.c")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        cmd = cc + ["-fopenmp", src, "-o", os.path.join(tmp, "omp")]
        ok = subprocess.run(cmd, capture_output=True).returncode == 0
    except OSError:
        ok = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        print("fastcavi: OpenMP not available, building serial kernels", file=sys.stderr)
        return [], []
    return ["-fopenmp"], ["-fopenmp"]


compile_omp, link_omp = openmp_flags()
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
          ("FASTCAVI_OPENMP", "1" if compile_omp else "0")]

extensions = [
    Extension(
        "fastcavi._ext._lda",
        ["csrc/_lda.pyx"],
        include_dirs=[np.get_include()],
        define_macros=macros,
        extra_compile_args=["-O3"] + compile_omp,
        extra_link_args=link_omp,
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
