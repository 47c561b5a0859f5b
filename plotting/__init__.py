"""Paper-ready figures and tables from results (matplotlib with the Agg backend)."""

from plotting.style import ONE_COLUMN_WIDTH, TWO_COLUMN_WIDTH, MethodStyle, figure_size, method_styles

__all__ = ["ONE_COLUMN_WIDTH", "TWO_COLUMN_WIDTH", "MethodStyle", "figure_size", "method_styles"]
