"""The runtime harness: confirm static findings by running the program.

`devlint confirm` (`devlint.runtime.command`) runs the user's program in a child process
(`devlint.runtime.child`) under a device tracer (`tracer`), on a real accelerator or on
the emulated one (`emulation`), then links each device event to the static findings
(`confirm`) and reports (`render`).  `pytest --devlint-confirm` does the same for a test
suite (`pytest_plugin`).

Nothing here imports torch at import time except the modules that only the process
running the user's program loads (`tracer`, `emulation`, `install`).
"""
