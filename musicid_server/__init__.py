"""The phone server: an HTTPS API and a phone page, paired by a token in a QR code.

Layers: this package uses ``musicid_core`` and ``training`` only; the CLI (``musicid serve``) and
the app's Phone panel start it. See ``docs/phone.md``.
"""
