-- wrk script: an MCP JSON-RPC POST whose body is taken from $BODY.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.body = os.getenv("BODY")
