"""Services write. Keyword-only, typed, named <entity>_<action>."""
