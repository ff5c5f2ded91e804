"""The public API of nano3.data_prep is exactly the documented list."""
from __future__ import annotations

import importlib

import nano3.data_prep as dp

DOCUMENTED = [
    "ChatTemplate", "DataPrepConfigError", "DataPrepError", "DatasetSpec", "EmptyInputError",
    "ErrorPolicy", "FakeTokenizer", "IndexedReader", "IndexedWriter", "InputNotFoundError",
    "InputRecordError", "MergeTimeoutError", "ParallelSpec", "PretrainConfig", "RLConfig",
    "SFTConfig", "SampleSpec", "Tokenizer", "TokenizerError", "TokenizerSpec",
    "load_tokenizer", "pack_ffd", "pack_ffd_reference", "prepare_pretrain", "prepare_rl",
    "prepare_sft", "published_name", "read_blend", "resolve_rank", "validate_config",
    "write_blend",
]
MODULES = ["_blend", "_cli", "_config", "_indexed", "_inputs", "_packing", "_pretrain_work",
           "_publish", "_runner", "_sft_work", "_stage", "_tokenizer", "errors", "make_tiny_corpus",
           "pretrain", "rl", "sft"]


def test_package_all_is_exact_sorted_and_importable() -> None:
    """__all__ equals the documented list, is sorted, and every name resolves."""
    assert dp.__all__ == DOCUMENTED
    assert dp.__all__ == sorted(dp.__all__)
    for name in dp.__all__:
        assert getattr(dp, name) is not None


def test_every_module_has_sorted_all_of_real_names() -> None:
    """Each private module declares a sorted __all__ of names it defines."""
    for mod_name in MODULES:
        mod = importlib.import_module(f"nano3.data_prep.{mod_name}")
        names = mod.__all__
        assert names == sorted(names), mod_name
        assert len(set(names)) == len(names), mod_name
        for n in names:
            assert hasattr(mod, n), f"{mod_name}.{n}"


def test_errors_root_in_kit_error_and_builtins() -> None:
    """Every data prep error is a KitError and also the builtin it is."""
    from kit_config.errors import KitError
    from nano3.data_prep import errors

    assert issubclass(errors.DataPrepError, KitError)
    assert issubclass(errors.InputNotFoundError, FileNotFoundError)
    assert issubclass(errors.InputRecordError, ValueError)
    assert issubclass(errors.MergeTimeoutError, TimeoutError)
    assert issubclass(errors.TokenizerError, ValueError)
    assert issubclass(errors.DataPrepConfigError, ValueError)
    assert issubclass(errors.EmptyInputError, ValueError)


def test_errors_survive_pickling_with_attributes() -> None:
    """An error raised in a worker process reaches the parent with its context."""
    import pickle

    from nano3.data_prep.errors import InputRecordError

    err = InputRecordError("missing_field", file="/x.jsonl", line=7, detail="no field 'text'")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.file, back.line, back.reason, str(back)) == (
        InputRecordError, "/x.jsonl", 7, "missing_field", str(err))


def test_import_is_light() -> None:
    """Importing the package loads no heavy library (tokenizers, pyarrow, torch, ...)."""
    import subprocess
    import sys

    code = ("import sys, nano3.data_prep, nano3.data_prep.pretrain;"
            "heavy={'tokenizers','tiktoken','pyarrow','torch','megatron','kit_artifacts',"
            "'wandb','mlflow','nemo_run','boto3','fsspec'};"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
