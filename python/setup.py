"""Builds elmo._elmo against libelmo: an installed one (`cmake --install build`, found by
`pkg-config elmo`), or the shared library of a build tree (ELMO_BUILD_DIR, else ../build).

    pip install --no-build-isolation ./python      (numpy and setuptools already installed)

The extension records where the default model and the elmo CLI are (the install prefix, or
the source tree and its build directory) and is linked with an rpath to libelmo.
"""
import os
import subprocess
import sys

import numpy
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)


def pkgconfig(*args):
    try:
        r = subprocess.run(["pkg-config"] + list(args) + ["elmo"], check=True,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
        return r.stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None


def libelmo():
    """compile and link flags, default model candidates, CLI candidates"""
    build = os.environ.get("ELMO_BUILD_DIR")
    if not build and pkgconfig("--exists") is not None:
        prefix = os.path.realpath(pkgconfig("--variable=prefix")[0])
        libdir = os.path.realpath(pkgconfig("--variable=libdir")[0])
        return (pkgconfig("--cflags"), pkgconfig("--libs") + ["-Wl,-rpath," + libdir],
                [os.path.join(prefix, "share", "elmo", "models", "elmo-en-v3")],
                [os.path.join(prefix, "bin", "elmo")])
    build = os.path.abspath(build or os.path.join(SOURCE, "build"))
    if not os.path.exists(os.path.join(build, "libelmo.so")):
        sys.exit("setup.py: libelmo not found: install it (cmake --install build; then pkg-config elmo "
                 "finds it) or build the source tree (cmake -S . -B build && cmake --build build) "
                 "and set ELMO_BUILD_DIR (looked in %s)" % build)
    return (["-I" + os.path.join(SOURCE, "include")],
            ["-L" + build, "-lelmo", "-Wl,-rpath," + build],
            [os.path.join(SOURCE, "models", "elmo-en-v3")], [os.path.join(build, "elmo")])


cflags, libs, models, clis = libelmo()
ext = Extension(
    "elmo._elmo",
    sources=[os.path.join("src", "elmomodule.c")],
    include_dirs=[numpy.get_include()],
    define_macros=[("ELMO_DEFAULT_MODEL_DIRS", '"%s"' % os.pathsep.join(models)),
                   ("ELMO_CLI_PATHS", '"%s"' % os.pathsep.join(clis))],
    extra_compile_args=cflags + ["-std=c11", "-D_GNU_SOURCE"],
    extra_link_args=libs,
)
setup(ext_modules=[ext])
