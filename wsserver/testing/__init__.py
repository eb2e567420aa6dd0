"""The test-double toolkit: seed files and export, test mode (reset, the request journal, fixed ids and
time), and the pytest plugin with its live server. Nothing here is imported by a normal request."""
