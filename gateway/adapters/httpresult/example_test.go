package httpresult_test

import (
	"fmt"
	"time"

	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
)

func ExampleRetryAfter() {
	now := time.Date(2024, 6, 15, 13, 30, 0, 0, time.UTC)
	fmt.Println(httpresult.RetryAfter("120", now))
	fmt.Println(httpresult.RetryAfter("Sat, 15 Jun 2024 13:31:00 GMT", now))
	fmt.Println(httpresult.RetryAfter("31536000", now)) // a year: capped
	fmt.Println(httpresult.RetryAfter("soon", now))
	// Output:
	// 2m0s
	// 1m0s
	// 24h0m0s
	// 0s
}
