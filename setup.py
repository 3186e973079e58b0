"""Build the Cython kernels in csrc/ into fastcavi._ext (csrc/<name>.pyx -> fastcavi._ext.<name>).

OpenMP: a tiny test program is compiled with -fopenmp first; where that fails
the extensions are built without it (serial prange) and
``fastcavi._ext._lda.OPENMP_ENABLED`` reports False at run time.
"""

import glob
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


def portable_flags():
    """Optimisation flags for a portable build.

    No -march=native (wheels and CI run on other x86_64 CPUs; AVX2 kernels
    are selected at run time instead, see csrc/include/fc_cpu.h) and no -ffast-math
    (the kernels rely on NaN/inf semantics). -ffp-contract=off keeps the
    compiler from fusing a*b+c into FMA when CFLAGS enable FMA, so every SIMD
    variant returns the same bits as the scalar code. MSVC gets /O2.
    """
    if sys.platform == "win32" and "gcc" not in (os.environ.get("CC") or ""):
        return ["/O2"]
    return ["-O3", "-ffp-contract=off"]


compile_omp, link_omp = openmp_flags()
#: the C headers every kernel module includes (csrc/include/*.h); an edit to one
#: of them rebuilds the extensions
INCLUDE = os.path.join("csrc", "include")
HEADERS = sorted(glob.glob(os.path.join(INCLUDE, "*.h")))
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
          ("FASTCAVI_OPENMP", "1" if compile_omp else "0")]


def _extension(pyx):
    """One extension module fastcavi._ext.<name> per csrc/<name>.pyx."""
    name = os.path.splitext(os.path.basename(pyx))[0]
    return Extension(
        f"fastcavi._ext.{name}",
        [pyx],
        include_dirs=[INCLUDE, np.get_include()],
        depends=HEADERS + [os.path.join("csrc", "fc_simd.pxi")],
        define_macros=macros,
        extra_compile_args=portable_flags() + compile_omp,
        extra_link_args=link_omp,
    )


# every kernel module in csrc/ (sorted, so the build order is reproducible)
extensions = [_extension(pyx) for pyx in sorted(glob.glob(os.path.join("csrc", "*.pyx")))]

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
