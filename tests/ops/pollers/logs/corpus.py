"""Error lines as each Lambda runtime writes them (one log event each), with the group they belong to.

Each entry: (runtime, line, error type, normalised message). Multi-line entries are one event,
as CloudWatch stores them (a Java stack with its ``Caused by:``, a Go panic with its goroutines).
"""

RID = "6f1c2a3b-1111-4a2b-9c3d-0123456789ab"
TS = "2026-11-23T10:00:01.123Z"

CORPUS = [
    (
        "python",
        f"[ERROR]\t{TS}\t{RID}\tKeyError: 'order_id'\nTraceback (most recent call last):\n"
        '  File "/var/task/app.py", line 42, in handler\n    order_id = event["order_id"]',
        "KeyError",
        "'order_id'",
    ),
    (
        "python-traceback",
        'Traceback (most recent call last):\n  File "/var/task/app.py", line 9, in handler\n    raise ValueError("bad sku 42")\n'
        "ValueError: bad sku 42",
        "ValueError",
        "bad sku <n>",
    ),
    (
        "python-json",
        '{"timestamp":"%s","level":"ERROR","message":{"errorMessage":"division by zero","errorType":"ZeroDivisionError",'
        '"requestId":"%s","stackTrace":["  File \\"/var/task/app.py\\", line 3, in handler\\n"]},"requestId":"%s"}' % (TS, RID, RID),
        "ZeroDivisionError",
        "division by zero",
    ),
    (
        "nodejs",
        f"{TS}\t{RID}\tERROR\tInvoke Error \t"
        '{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading \'id\')",'
        '"stack":["TypeError: Cannot read properties of undefined (reading \'id\')","    at Runtime.handler (file:///var/task/index.mjs:12:30)"]}',
        "TypeError",
        "Cannot read properties of undefined (reading 'id')",
    ),
    (
        "nodejs-uncaught",
        f"{TS}\t{RID}\tERROR\tUncaught Exception \t"
        '{"errorType":"Error","errorMessage":"connect ECONNREFUSED 10.0.0.12:5432","stack":["Error: connect ECONNREFUSED"]}',
        "Error",
        "connect ECONNREFUSED <n>.<n>:<n>",
    ),
    (
        "java",
        "java.lang.IllegalStateException: price not found for sku=SKU-1042\n"
        "\tat com.example.Handler.handleRequest(Handler.java:58)\n"
        "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(Unknown Source)\n"
        "Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.\n"
        "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
        "\t... 12 more",
        "java.lang.IllegalStateException",
        "price not found for sku=SKU-<n>",
    ),
    (
        "java-runtime-json",
        '{"errorMessage":"Index 5 out of bounds for length 3","errorType":"java.lang.ArrayIndexOutOfBoundsException",'
        '"stackTrace":["com.example.Handler.handleRequest(Handler.java:31)"]}',
        "java.lang.ArrayIndexOutOfBoundsException",
        "Index <n> out of bounds for length <n>",
    ),
    (
        "java-log4j",
        f"2026-11-23 10:00:01 {RID} ERROR Handler - payment declined for order 991",
        "Handler",
        "payment declined for order <n>",
    ),
    (
        "go-panic",
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a5b6c]\n\n"
        "goroutine 1 [running]:\nmain.handler({0x7f2a4c, 0xc000012345})\n\t/var/task/main.go:27 +0x1d",
        "panic",
        "runtime error: invalid memory address or nil pointer dereference",
    ),
    (
        "go-error-json",
        '{"errorMessage":"upstream returned 503","errorType":"errorString"}',
        "errorString",
        "upstream returned <n>",
    ),
    (
        "dotnet",
        f"{TS}\t{RID}\tfail\tSystem.InvalidOperationException: Order 42 was not found.\n"
        "   at Orders.Function.FunctionHandler(Order input, ILambdaContext context) in /src/Function.cs:line 31",
        "System.InvalidOperationException",
        "Order <n> was not found.",
    ),
    (
        "dotnet-console",
        "fail: Microsoft.AspNetCore.Server.Kestrel[13]\n"
        '      Connection id "0HMVQ3D1K2L3M", Request id "0HMVQ3D1K2L3M:00000001": An unhandled exception was thrown by the application.\n'
        "      System.NullReferenceException: Object reference not set to an instance of an object.",
        "System.NullReferenceException",
        "Object reference not set to an instance of an object.",
    ),
    (
        "ruby-logger",
        "E, [2026-11-23T10:00:01.123456 #8] ERROR -- : PG::ConnectionBad: could not connect to server 10.0.0.7",
        "PG::ConnectionBad",
        "could not connect to server <n>.<n>",  # an address reads as two decimals: one group per message shape
    ),
    (
        "ruby-raise",
        "/var/task/function.rb:5:in 'handler': undefined method 'fetch' for nil (NoMethodError)\n"
        "\tfrom /var/runtime/lib/lambda_handler.rb:22:in 'call_handler'",
        "NoMethodError",
        "undefined method 'fetch' for nil",
    ),
    (
        "ruby-runtime-json",
        '{"errorMessage":"undefined method `[]\' for nil:NilClass","errorType":"Function<NoMethodError>",'
        '"stackTrace":["/var/task/function.rb:3:in `handler\'"]}',
        "NoMethodError",
        "undefined method `[]' for nil:NilClass",
    ),
    (
        "custom-runtime",
        f"RequestId: {RID} Error: Runtime exited with error: exit status 2\nRuntime.ExitError",
        "Runtime.ExitError",
        "Runtime exited with error: exit status <n>",
    ),
    (
        "custom-runtime-json",
        '{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: %s Error: fork/exec /var/task/bootstrap: permission denied"}' % RID,
        "Runtime.InvalidEntrypoint",
        "RequestId: <uuid> Error: fork/exec /var/task/bootstrap: permission denied",
    ),
    (
        "timeout",
        f"{TS} {RID} Task timed out after 3.00 seconds",
        "Task timed out",
        "Task timed out after <n> seconds",
    ),
]
