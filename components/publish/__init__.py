"""publish: upload a model as an immutable verified version (manifest last) and promote it on a passing gate."""
