-- wrk script: authenticated GETs.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
