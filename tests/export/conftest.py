"""Fixtures of the export tests: the tiny random models the prediction tests use too."""

from ..predict.conftest import ms_model, sar_model

__all__ = ['ms_model', 'sar_model']
