"""Papers out: the dashboard's lists as CSV and XLSX, and the quarterly market quality
report as PDF and XLSX, built from the records' own queries (issue 22)."""
