/*
 * Writes valid inputs for fuzz_gen_spec.c into the directory given as
 * argv[1]: --stream specs that together use every option of
 * `shadowtap-gen --help` (the --help examples and those of
 * tests/tools/gen/test_gen.c among them), durations in every unit, --start
 * times in both forms, and small NAB trace CSVs.  Deterministic.
 *
 *	fuzz-seeds-gen_spec <corpus dir>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const seeds[] = {
	/* --help's example */
	"kafka:orders,rate=5000,keys=100000,zipf=1.1,partitions=8,batch=10,version=9",
	"mqtt:sensors/temp,version=5,qos=1",
	"nats:orders.eu,headers=1",
	"jsonl:udp:5140,schema=+extra@15s",
	/* tests/tools/gen/test_gen.c */
	"kafka:v3,version=3,rate=400,conns=2,keys=50",
	"kafka:v7,version=7,rate=400,partitions=4,headers=1,batch=5",
	("kafka:v8,version=8,rate=600,partitions=3,split=random,mss=300,zipf=1.2,keys=500,"
	 "reorder=0.2,dup=0.1,schema=+extra:object@1s"),
	"kafka:flex,version=9,rate=800,partitions=5,headers=1,zipf=1.1,keys=300,split=random",
	"mqtt:sensors/temp,version=5,qos=1,rate=500,batch=3,linger=2ms",
	"mqtt:exactly/once,version=5,qos=2,rate=100",
	"nats:plain.sub,rate=200,verbose=1,batch=4,linger=3ms,ping=500ms",
	("jsonl:udp:5140,rate=2000,zipf=1.3,keys=5000,schema=+extra:string@1s,"
	 "schema=amount:string@1700ms,schema=-note@2200ms,schema=+flag:bool@2500ms"),
	"jsonl:tcp:5141,rate=300,batch=3,linger=1ms",
	"kafka:bursty,shape=bursts,rate=3000,on=500ms,off=500ms,partitions=2",
	"mqtt:daily,shape=diurnal,rate=1000,amp=0.9,period=2s",
	"nats:taxi,shape=trace:/data/nyc_taxi.csv,compress=1800,peak=2000",
	/* every remaining option and value form */
	"kafka:all-opts_1.x,acks=all,version=4,port=19092,conns=64,batch=10000,linger=0",
	"kafka:acks0,acks=0,split=mss,partitions=10000,keys=1099511627776,zipf=10",
	"kafka:acks-1,acks=-1,headers=0,mss=8960,dup=1,reorder=1,rate=0",
	"mqtt:lvl/3.1.1,version=3.1.1,qos=0,port=8883,offrate=50,shape=bursts,on=0,off=1h",
	"mqtt:lvl5,version=5.0,shape=diurnal,amp=0,period=1.5m,rate=100000000",
	"nats:a.b.c,verbose=0,ping=1us,headers=1,mss=1,split=random",
	"jsonl:udp:65535,dgram=64,batch=1,linger=5ms,port=1",
	"jsonl:udp:9000,dgram=8952,rate=500,keys=3",
	"jsonl:tcp:1,split=random,reorder=0.5,mss=536,dgram=1000",
	"nats:x,shape=trace:t.csv,compress=0.001,peak=1e8",
	"kafka:x,shape=trace:t.csv,compress=1e9,peak=0,shape=constant",
	("kafka:changes,schema=+a@0,schema=+b:null@1s,schema=+c:bool@2s,schema=+d:number@3s,"
	 "schema=+e:string@4s,schema=+f:object@5s,schema=+g:array@6s,schema=-a@7s,"
	 "schema=b:string@8s,schema=amount:array@1m,schema=-note@1h,schema=+Z_9:number@100us"),
	/* durations */
	"12", "12.5s", "1500ms", "2m", "1h", "250us", "0", "1e3ms", "0.000001s",
	/* --start */
	"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456Z", "1970-01-01T00:00:00Z",
	"2106-02-07T06:28:15.999999Z", "2024-02-29T23:59:59.5Z",
	"@1767225600", "@0", "@4294967295.999999", "@1767225600.000001",
	/* NAB trace CSVs */
	("timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n"
	 "2014-07-01 01:00:00,6210\n"),
	("timestamp,value\r\n2014-04-01 00:00:00,18.3249\r\n2014-04-01 00:05:00,-2.5\r\n"
	 "\r\n2014-04-01 00:10:00,0.0\r\n"),
	"2015-02-26 21:42:53,104\n2015-02-26 21:47:53,100\n2015-02-26 21:52:53,0",
};

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds-gen_spec <corpus dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%02zu", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, strlen(seeds[i]), f) != strlen(seeds[i]) ||
		    fclose(f) != 0) {
			fprintf(stderr, "fuzz-seeds-gen_spec: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}
