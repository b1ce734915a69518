"""Colab's interactive tables: pandas' own display is used instead."""


def enable_dataframe_formatter(*args, **kwargs):
    pass


def disable_dataframe_formatter(*args, **kwargs):
    pass


class DataTable:
    def __init__(self, dataframe=None, *args, **kwargs):
        self.dataframe = dataframe

    def _repr_html_(self):
        return self.dataframe._repr_html_() if hasattr(self.dataframe, "_repr_html_") else repr(self.dataframe)
