"""The product's AWS permissions: the table (``table``), the policies and the CloudFormation
template generated from it (``policy``), and the cheap calls that check it (``probes``)."""

from ops.aws.permissions.table import (ASSUMER, BY_KEY, OPERATOR, PERMISSIONS, POLICIES, READ_ONLY, Permission,
                                       actions_for_kind, actions_of, checked_actions, features_of)

__all__ = ["ASSUMER", "BY_KEY", "OPERATOR", "PERMISSIONS", "POLICIES", "READ_ONLY", "Permission", "actions_for_kind",
           "actions_of", "checked_actions", "features_of"]
