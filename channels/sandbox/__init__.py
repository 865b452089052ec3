"""Local fakes of the platforms (WeCom, Ocean Engine/Douyin, Meituan…) for the demo and the tests.

``python -m channels.sandbox --port 8001`` serves them all on one loopback port; tests start them
in-process (tests/sandbox_fixtures.py).
"""
