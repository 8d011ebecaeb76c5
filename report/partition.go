package report

import (
	"slices"
	"strings"
)

// Partition is an AWS partition: a separate set of regions with its own IAM,
// and the first field of every ARN in it.
type Partition struct {
	Name string
	// Region signs requests to the partition's global IAM endpoint, and is
	// the region used when none is configured.
	Region string
	// regionPrefix starts the names of the partition's regions.
	regionPrefix string
}

// Partitions lists every partition of the AWS SDK's endpoint table. The
// report parser, the role ARN checks and the AWS configuration all use this
// one list, so a report, a role and a region never disagree on what exists.
// Longer region prefixes come first: they must win over "us-".
var Partitions = []Partition{
	{Name: "aws-us-gov", Region: "us-gov-west-1", regionPrefix: "us-gov-"},
	{Name: "aws-iso-b", Region: "us-isob-east-1", regionPrefix: "us-isob-"},
	{Name: "aws-iso-f", Region: "us-isof-south-1", regionPrefix: "us-isof-"},
	{Name: "aws-iso-e", Region: "eu-isoe-west-1", regionPrefix: "eu-isoe-"},
	{Name: "aws-iso", Region: "us-iso-east-1", regionPrefix: "us-iso-"},
	{Name: "aws-eusc", Region: "eusc-de-east-1", regionPrefix: "eusc-"},
	{Name: "aws-cn", Region: "cn-north-1", regionPrefix: "cn-"},
	{Name: "aws", Region: "us-east-1", regionPrefix: ""},
}

// LookupPartition returns the partition named name.
func LookupPartition(name string) (Partition, bool) {
	i := slices.IndexFunc(Partitions, func(p Partition) bool { return p.Name == name })
	if i < 0 {
		return Partition{}, false
	}
	return Partitions[i], true
}

// PartitionOfRegion returns the partition that holds region; any region
// that no other partition claims is in "aws".
func PartitionOfRegion(region string) Partition {
	for _, p := range Partitions {
		if strings.HasPrefix(region, p.regionPrefix) {
			return p
		}
	}
	return Partitions[len(Partitions)-1]
}

// PartitionNames lists the partitions' names, for error messages.
func PartitionNames() string {
	names := make([]string, len(Partitions))
	for i, p := range Partitions {
		names[i] = p.Name
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
