"""The integration suite's plain helpers, one module per concern (see
README.md, Layout); conftest.py holds the fixtures that use them."""
