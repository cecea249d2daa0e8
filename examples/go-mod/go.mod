module example.com/go-mod

go 1.22

require github.com/google/uuid v1.3.0
