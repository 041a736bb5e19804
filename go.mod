module github.com/seed0021ed4d/pex

go 1.26.0

require golang.org/x/time v0.16.0

require go.uber.org/goleak v1.3.0
