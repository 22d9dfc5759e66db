output "vpc_id" {
  description = "The VPC's ID."
  value       = aws_vpc.main.id
}

output "vpc_cidr_block" {
  description = "The VPC's address range."
  value       = aws_vpc.main.cidr_block
}

output "public_subnet_ids" {
  description = "Subnets of the ALB (one per zone)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Subnets of the tasks and the database (one per zone)."
  value       = aws_subnet.private[*].id
}

output "nat_public_ips" {
  description = "Addresses the tasks' outbound traffic leaves from (for allowlists at Temporal Cloud or a relay)."
  value       = aws_eip.nat[*].public_ip
}
