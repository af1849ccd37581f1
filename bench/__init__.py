"""Benchmarks of flask_wechat against bare Flask and wechatpy: ``python -m bench``."""
