output "pdf_bucket_name" {
  description = "S3_BUCKET for the binaries."
  value       = aws_s3_bucket.pdfs.id
}

output "pdf_bucket_arn" {
  description = "ARN of the PDF bucket (for the task roles' policies)."
  value       = aws_s3_bucket.pdfs.arn
}

output "log_bucket_name" {
  description = "Bucket of the S3 and ALB access logs (the ALB writes under alb/)."
  value       = aws_s3_bucket.logs.id
}
