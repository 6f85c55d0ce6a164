"""Reports: data-quality report, markdown tables and plots."""
