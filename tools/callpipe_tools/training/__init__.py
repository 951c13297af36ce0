"""Training scripts: they fit the models the runtime loads (e.g. the offline analyzer's
``model.json``); the runtime reads the fitted files and never imports these modules."""
