"""The council's tracker in: a workbook or CSV of providers and their history, read,
checked row by row and stored through the records' write path (issue 22)."""
