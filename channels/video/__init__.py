"""Video Accounts (视频号) live-room lead forms and WeChat shop (微信小店) order pushes."""
