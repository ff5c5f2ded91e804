"""The public APIs of nano3.data_prep and nano3.formats are exactly the documented lists."""
from __future__ import annotations

import importlib

import pytest

from kit_config.errors import KitError
from nano3.data_prep.errors import InputRecordError
from nano3.formats import FormatError

DOCUMENTED = [
    "ChatTemplate", "DataPrepError", "DatasetSpec", "EmptyInputError", "ErrorPolicy",
    "FakeTokenizer", "IndexedReader", "IndexedWriter", "InputNotFoundError", "InputRecordError",
    "MergeTimeoutError", "ParallelSpec", "PretrainDataConfig", "RLDataConfig", "SFTDataConfig",
    "SampleSpec", "Tokenizer", "TokenizerError", "TokenizerSpec", "load_tokenizer", "pack_ffd",
    "pack_ffd_reference", "prepare_pretrain", "prepare_rl", "prepare_sft", "published_name",
    "read_blend", "resolve_rank", "write_blend",
]
MODULES = ["_config", "_inputs", "_packing", "_pretrain_work", "_publish", "_runner",
           "_sft_work", "_stage", "errors", "make_tiny_corpus", "pretrain", "rl",
           "sft"]
FORMATS_DOCUMENTED = [
    "BLEND_FILENAME", "Blend", "BlendEntry", "DTYPE_CODES", "FakeTokenizer", "FormatError",
    "IndexFile", "IndexedReader", "IndexedWriter", "PackedRows", "RLExample",
    "RL_MANIFEST_FILENAME", "RL_SPLITS", "SFT_SPLIT_FILES", "Tokenizer", "TokenizerError",
    "TokenizerSpec", "concat_packed_parquet", "encode_rl_record", "load_tokenizer",
    "read_blend", "read_index", "read_packed_rows", "read_rl_splits", "token_dtype",
    "write_blend", "write_packed_parquet", "write_rl_splits",
]
FORMATS_MODULES = ["_blend", "_indexed", "_rl_splits", "_sft_parquet", "_tokenizer", "errors"]
PACKAGES = [
    pytest.param("nano3.data_prep", DOCUMENTED, MODULES, id="data_prep"),
    pytest.param("nano3.formats", FORMATS_DOCUMENTED, FORMATS_MODULES, id="formats"),
]


@pytest.mark.parametrize(("package", "documented", "modules"), PACKAGES)
def test_package_all_is_exact_sorted_and_importable(package: str, documented: list[str],
                                                    modules: list[str]) -> None:
    """__all__ equals the documented list, is sorted, and every name resolves."""
    pkg = importlib.import_module(package)
    assert pkg.__all__ == documented
    assert pkg.__all__ == sorted(pkg.__all__)
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None


@pytest.mark.parametrize(("package", "documented", "modules"), PACKAGES)
def test_every_module_has_sorted_all_of_real_names(package: str, documented: list[str],
                                                   modules: list[str]) -> None:
    """Each private module declares a sorted __all__ of names it defines."""
    for mod_name in modules:
        mod = importlib.import_module(f"{package}.{mod_name}")
        names = mod.__all__
        assert names == sorted(names), mod_name
        assert len(set(names)) == len(names), mod_name
        for n in names:
            assert hasattr(mod, n), f"{mod_name}.{n}"


def test_errors_root_in_kit_error_and_builtins() -> None:
    """Every data prep and format error is a KitError and also the builtin it is."""
    from nano3.data_prep import errors

    assert issubclass(errors.DataPrepError, KitError)
    assert issubclass(errors.InputNotFoundError, FileNotFoundError)
    assert issubclass(errors.InputRecordError, ValueError)
    assert issubclass(errors.MergeTimeoutError, TimeoutError)
    assert issubclass(errors.TokenizerError, ValueError)
    assert issubclass(errors.EmptyInputError, ValueError)
    assert issubclass(FormatError, KitError) and issubclass(FormatError, ValueError)


@pytest.mark.parametrize("err", [
    pytest.param(InputRecordError("missing_field", file="/x.jsonl", line=7,
                                  detail="no field 'text'"), id="data_prep"),
    pytest.param(FormatError("/d/shard.idx", "unknown dtype code 99", hint="re-run data prep"),
                 id="formats"),
])
def test_errors_survive_pickling_with_attributes(err: KitError) -> None:
    """An error raised in a worker process reaches the parent with its context."""
    import pickle

    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
    assert back.__dict__ == err.__dict__


_HEAVY = ["tokenizers", "tiktoken", "pyarrow", "torch", "megatron", "kit_artifacts", "wandb",
          "mlflow", "nemo_run", "boto3", "fsspec"]


@pytest.mark.parametrize(("modules", "heavy"), [
    pytest.param("nano3.data_prep, nano3.data_prep.pretrain", _HEAVY, id="data_prep"),
    # Both sides import the formats: they must not pull in either side.
    pytest.param("nano3.formats", [*_HEAVY, "nano3.data_prep", "nano3.stages"], id="formats"),
])
def test_import_is_light(modules: str, heavy: list[str]) -> None:
    """Importing the package loads no heavy library (tokenizers, pyarrow, torch, ...)."""
    import subprocess
    import sys

    code = f"import sys, {modules}; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
