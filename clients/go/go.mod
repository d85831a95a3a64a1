module github.com/agentshare/agentshare/clients/go

go 1.19
