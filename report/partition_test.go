package report

import "testing"

func TestPartitionOfRegion(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "aws", "eu-west-1": "aws", "cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov", "us-iso-east-1": "aws-iso",
		"us-isob-east-1": "aws-iso-b", "us-isof-south-1": "aws-iso-f", "eu-isoe-west-1": "aws-iso-e",
		"eusc-de-east-1": "aws-eusc",
	} {
		if got := PartitionOfRegion(region).Name; got != want {
			t.Errorf("PartitionOfRegion(%q) = %q, want %q", region, got, want)
		}
	}
	// Every partition's own region is in it, so a default region never
	// names another partition.
	for _, p := range Partitions {
		if got := PartitionOfRegion(p.Region).Name; got != p.Name {
			t.Errorf("the region %s of partition %s is in partition %s", p.Region, p.Name, got)
		}
	}
}
