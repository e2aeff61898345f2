"""CQC: the API client (httpx), rating normalisation, the changes-driven sync and the
national market benchmark."""
