module sioloop/tools/peers/zishang

go 1.26.0
