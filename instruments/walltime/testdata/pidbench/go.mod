module pidbench

go 1.22
