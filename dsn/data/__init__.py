"""Data: MVTec-layout discovery, image loading, the Dataset and the DataModule (no model code)."""

from dsn.data.datamodule import MVTecDataModule
from dsn.data.dataset import MVTecDataset
from dsn.data.images import ImageError, load_image

__all__ = ["ImageError", "MVTecDataModule", "MVTecDataset", "load_image"]
