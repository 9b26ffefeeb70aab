"""The only package that imports boto3/botocore. Adapters return frozen dataclasses."""
