"""Talk to the Kubeflow Pipelines API, one module per verb, through ``kfp.Client``'s public methods only."""
