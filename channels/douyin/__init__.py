"""Douyin: Ocean Engine (巨量引擎) ad leads pulled on a moving window, Douyin open-platform webhooks."""
