// Membership outside an MPI launcher: a job of one whose collectives are
// identities, bound to loopback.
#include "transport/membership.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace baton::transport;

TEST(Membership, WithoutALauncherIsAJobOfOne) {
  ASSERT_FALSE(Membership::launched_by_mpi()) << "run this test outside mpirun";
  auto m = Membership::join();
  EXPECT_EQ(m->rank(), 0);
  EXPECT_EQ(m->size(), 1);
  EXPECT_EQ(m->local_rank(), 0);
  EXPECT_EQ(m->local_size(), 1);
  EXPECT_FALSE(m->distributed());
  EXPECT_TRUE(m->single_host());
  ASSERT_EQ(m->host_names().size(), 1u);
  EXPECT_FALSE(m->host_names()[0].empty());
  EXPECT_EQ(m->allgather("tcp://127.0.0.1:5555"), std::vector<std::string>{"tcp://127.0.0.1:5555"});
  EXPECT_EQ(m->broadcast(std::string(128, '\x07'), 0), std::string(128, '\x07'));
  m->barrier();
}

TEST(Membership, TransportAddressIsLoopbackOnOneHostUnlessOverridden) {
  auto m = Membership::join();
  unsetenv("BATON_TRANSPORT_ADDRESS");
  EXPECT_EQ(m->transport_address(), "127.0.0.1");
  setenv("BATON_TRANSPORT_ADDRESS", "10.1.2.3", 1);
  EXPECT_EQ(m->transport_address(), "10.1.2.3");
  unsetenv("BATON_TRANSPORT_ADDRESS");
}
