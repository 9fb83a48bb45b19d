-- wrk script: POST /v1/invoices, a draft of three lines (two taxed). CUSTOMER, TAX and KEY in the
-- environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.body = string.format(
  '{"customerId":"%s","lines":[{"description":"Cut","unitAmount":4500,"taxRateId":"%s"},' ..
  '{"description":"Colour","quantity":2,"unitAmount":3333,"discountPercentBp":1000,"taxRateId":"%s"},' ..
  '{"description":"Tip","unitAmount":500}]}',
  os.getenv("CUSTOMER"), os.getenv("TAX"), os.getenv("TAX"))
