-- wrk script: POST /v1/payments of 1 minor unit on the open invoice $INVOICE (KEY in the
-- environment); once it is paid, the refusals (409) are counted as non-2xx.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.body = string.format('{"invoiceId":"%s","amount":1,"method":"cash"}', os.getenv("INVOICE"))
