"""Data the pipeline reads (document layouts), installed as the package `redactor.models`.

Read it with `redactor.resources.model_json(name)`, never through a path into the source tree.
"""
