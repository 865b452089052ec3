"""WeCom (企业微信) 客户联系: crypto for callbacks, the HTTP client, the event adapter, sync and 活码."""
