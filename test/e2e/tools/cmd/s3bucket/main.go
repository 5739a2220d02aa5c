// Command s3bucket creates a bucket on an S3-compatible store: the state backend the end-to-end suite
// starts has none, and the Pulumi CLI never creates one. Credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, as the CLI reads them.
//
//	s3bucket -endpoint http://127.0.0.1:7070 -region us-east-1 <bucket>
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "s3bucket:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	flags := flag.NewFlagSet("s3bucket", flag.ContinueOnError)
	flags.SetOutput(stderr)
	endpoint := flags.String("endpoint", "", "the store's URL, e.g. http://127.0.0.1:7070")
	region := flags.String("region", "us-east-1", "the region the store answers for")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" || flags.NArg() != 1 {
		return errors.New("usage: s3bucket -endpoint URL [-region R] <bucket>")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	client := s3.New(s3.Options{
		Region:       *region,
		BaseEndpoint: endpoint,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(flags.Arg(0))})
	return err
}
