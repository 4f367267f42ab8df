"""The backend worker: a long-lived process that runs generate jobs for the Blender add-on.

Requests arrive as JSON lines on stdin, events leave as JSON lines on stdout (see
docs/protocol.md); `protocol` holds the wire format, `server` the request loop, `jobs` the
queue and job thread, `execute` the link to the pipeline, `results` the job folders.
"""
