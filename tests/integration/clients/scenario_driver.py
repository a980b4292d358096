"""The driver part shared by the Python client-matrix scripts (pymemcache_client.py,
pylibmc_client.py): step checks, the large test value, and the loop that runs the scenario's
steps and prints "ok STEP" per step, "FAIL STEP: detail" on the first failure, "PASS N" at the end.
Each script keeps its own scenario, since the libraries' calls and return values differ."""


class StepFailure(Exception):
    pass


def check(cond, detail="condition false"):
    if not cond:
        raise StepFailure(detail)


def large_value():
    """512 KiB, every byte value 0..250 including \\r and \\n."""
    return bytes((i * 31 + (i >> 9)) % 251 for i in range(512 * 1024))


def run_steps(steps, close):
    """Run (name, fn) steps in order, stop at the first failure; close() the client either way.
    Returns the script's exit code: 0 when every step passed, 1 otherwise."""
    passed = 0
    try:
        for name, fn in steps:
            try:
                fn()
            except StepFailure as e:
                print(f"FAIL {name}: {e}")
                return 1
            except Exception as e:  # a client error names the step it hit
                print(f"FAIL {name}: {type(e).__name__}: {e}")
                return 1
            print(f"ok {name}", flush=True)
            passed += 1
    finally:
        close()
    print(f"PASS {passed}")
    return 0
