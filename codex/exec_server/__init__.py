"""The exec-server: a JSON-RPC process server (`codex exec-server`) and the ExecBackend seam.

Other packages use `ExecBackend`/`ExecProcess` and the events from `backend`, `LocalBackend`
from `local`, and the wire definitions in `protocol`; imports stay lazy here so that importing
the package costs nothing.
"""
