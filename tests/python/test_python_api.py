"""The recship Python package as installed (`pip install .`): Monolith's
model_export names with the original's keywords and defaults, export mode,
errors as Python exceptions, docstrings, type stubs, and the wheel."""

import ast
import inspect
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import recship
from recship import checkpoint, errors, estimator, layers, ops, serving, zoo
from recship.model_export import delta_exporter, export_context, saved_model_exporters
from recship.model_export.export_context import ExportContext, ExportMode

from conftest import REPO_DIR

PACKAGE_DIR = Path(recship.__file__).parent
MODULES = [recship, checkpoint, errors, estimator, layers, ops, serving, zoo, export_context,
           saved_model_exporters, delta_exporter]


def test_the_installed_package_is_under_test():
    # The tests import what pip installed, not the source tree.
    assert "site-packages" in recship.__file__, recship.__file__
    assert not PACKAGE_DIR.is_relative_to(REPO_DIR / "python")


def params(func):
    """[(name, default or None)] of the parameters before any keyword-only one."""
    sig = inspect.signature(func)
    return [(p.name, None if p.default is inspect.Parameter.empty else p.default)
            for p in sig.parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD]


# The original's signatures (the seed's model_export reference).
ORIGINAL = {
    "StandaloneExporter": [("self", None), ("model_fn", None), ("model_dir", None),
                           ("export_dir_base", None), ("shared_embedding", False),
                           ("warmup_file", None)],
    "DistributedExporter": [("self", None), ("model_fn", None), ("model_dir", None),
                            ("export_dir_base", None), ("shared_embedding", False),
                            ("warmup_file", None), ("dense_only", False), ("allow_gpu", False),
                            ("with_remote_gpu", False), ("clear_entry_devices", False),
                            ("include_graphs", None), ("global_step_as_timestamp", False)],
}
EXPORT_SAVED_MODEL = [("self", None), ("serving_input_receiver_fn", None),
                      ("checkpoint_path", None), ("global_step", None)]


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_exporters_take_the_original_keywords_and_defaults(name):
    cls = getattr(saved_model_exporters, name)
    assert params(cls.__init__) == ORIGINAL[name]
    assert params(cls.export_saved_model) == EXPORT_SAVED_MODEL
    # recship's extras are keyword-only, so no positional call changes meaning.
    extras = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.kind == p.KEYWORD_ONLY]
    assert {p.name for p in extras} >= {"embedding_dtype", "min_frequency", "progress"}


def test_export_context_names():
    for name in ["ExportContext", "ExportMode", "is_exporting", "is_exporting_standalone",
                 "is_exporting_distributed", "get_current_export_ctx", "enter_export_mode"]:
        assert hasattr(export_context, name), name
    assert params(export_context.enter_export_mode) == [("mode", None), ("export_ctx", None)]
    assert {m.name for m in ExportMode} == {"STANDALONE", "DISTRIBUTED"}
    assert ExportContext().with_remote_gpu is False
    assert ExportContext(with_remote_gpu=True).with_remote_gpu is True


def test_enter_export_mode_holds_mode_and_context_for_the_block():
    assert not export_context.is_exporting()
    assert export_context.get_current_export_ctx() is None
    ctx = ExportContext()
    with export_context.enter_export_mode(ExportMode.DISTRIBUTED, ctx):
        assert export_context.is_exporting()
        assert export_context.is_exporting_distributed()
        assert not export_context.is_exporting_standalone()
        assert export_context.get_current_export_ctx() is ctx
        with pytest.raises(errors.FailedPreconditionError, match="export mode"):
            with export_context.enter_export_mode(ExportMode.STANDALONE):
                pass
    with pytest.raises(KeyError):
        with export_context.enter_export_mode(ExportMode.STANDALONE):
            assert export_context.is_exporting_standalone()
            assert export_context.get_current_export_ctx() is None
            raise KeyError("leaves the block")
    assert not export_context.is_exporting()


def test_export_mode_belongs_to_the_thread_that_entered_it():
    import threading
    seen = []
    with export_context.enter_export_mode(ExportMode.STANDALONE):
        t = threading.Thread(target=lambda: seen.append(export_context.is_exporting()))
        t.start()
        t.join()
    assert seen == [False]


def test_ops_outside_a_graph_build_raise():
    with pytest.raises(errors.FailedPreconditionError, match="no graph is being built"):
        ops.placeholder("float32", [None, 3])
    with pytest.raises(RuntimeError):  # FailedPreconditionError is a RuntimeError.
        with ops.name_scope("tower"):
            pass
    # A wrong argument type is a TypeError naming the accepted signature.
    with pytest.raises(TypeError, match="inputs: recship._recship.Output"):
        layers.dense(None, 3)  # type: ignore[arg-type]


def test_errors_are_also_the_builtin_exceptions_callers_expect():
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.NotFoundError, FileNotFoundError)
    assert issubclass(errors.UnavailableError, ConnectionError)
    assert errors.error_class("INVALID_ARGUMENT") is errors.InvalidArgumentError
    assert errors.error_class("NO_SUCH_CODE") is errors.UnknownError
    with pytest.raises(errors.NotFoundError, match="no_such_dir"):
        checkpoint.load_checkpoint("/nonexistent/no_such_dir/model.ckpt-1")


def public_names(module):
    return getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_name_has_a_docstring(module):
    assert module.__doc__, f"{module.__name__} has no docstring"
    missing = []
    for name in public_names(module):
        value = getattr(module, name)
        if inspect.ismodule(value) or isinstance(value, str):
            continue
        if not (getattr(value, "__doc__", None) or "").strip():
            missing.append(name)
    assert not missing, f"{module.__name__}: no docstring for {missing}"


def test_type_stubs_ship_and_name_the_extension_api():
    assert (PACKAGE_DIR / "py.typed").is_file()
    stub = PACKAGE_DIR / "_recship.pyi"
    tree = ast.parse(stub.read_text())
    defined = {node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    from recship import _recship
    native = {n for n in dir(_recship) if not n.startswith("_")}
    assert native <= defined, f"not in the stub: {sorted(native - defined)}"
    # Signatures carry types, e.g. dense's arguments.
    dense = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "dense")
    assert [a.arg for a in dense.args.args] == ["inputs", "units", "activation", "name"]
    assert all(a.annotation is not None for a in dense.args.args)


def test_a_wheel_builds_with_the_extension_stubs_and_modules(tmp_path):
    # Reuses the build folder `pip install .` configured (pyproject.toml).
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                             "--outdir", str(tmp_path), str(REPO_DIR)],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = list(tmp_path.glob("recship-0.1.0-*.whl"))
    assert len(wheels) == 1, list(tmp_path.iterdir())
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for module in ["__init__.py", "errors.py", "ops.py", "layers.py", "estimator.py", "zoo.py",
                   "checkpoint.py", "serving.py", "model_export/__init__.py",
                   "model_export/export_context.py", "model_export/saved_model_exporters.py",
                   "_recship.pyi", "py.typed"]:
        assert f"recship/{module}" in names, module
    assert any(n.startswith("recship/_recship.cpython-") and n.endswith(".so") for n in names)
    # Only the package: no C++ headers, static libraries or CMake files.
    assert not [n for n in names if n.endswith((".h", ".a", ".cmake"))]
