"""Typed artifacts (kit_artifacts) from a finished stage; imported only when publishing."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nano3.data_prep._config import DatasetSpec
from nano3.data_prep._inputs import InputFile

if TYPE_CHECKING:
    from kit_artifacts import InputDatasetInfo

__all__ = ["common_metadata", "source_datasets"]


def source_datasets(blend: Sequence[DatasetSpec], files: Sequence[Sequence[InputFile]],
                    rows: Sequence[int], *, text_field: bool = True
                    ) -> list[InputDatasetInfo | str]:
    """One `InputDatasetInfo` per blend dataset: where it came from and how much was used."""
    from kit_artifacts import InputDatasetInfo

    out: list[InputDatasetInfo | str] = []
    for ds, fs, n in zip(blend, files, rows, strict=True):
        out.append(InputDatasetInfo(uri=ds.path, name=ds.name, weight=float(ds.weight),
                                    split=ds.split, subset=ds.subset,
                                    text_field=ds.text_field if text_field else None,
                                    num_rows=int(n), size_bytes=sum(f.size for f in fs),
                                    num_files=len(fs)))
    return out


def common_metadata(run_hash: str, skipped: dict[str, int],
                    extra: dict[str, Any]) -> dict[str, Any]:
    """The free-form metadata every data artifact carries (run hash, skip counts, ...)."""
    return {"run_hash": run_hash, "skipped": dict(sorted(skipped.items())),
            "skipped_total": sum(skipped.values()), **extra}
